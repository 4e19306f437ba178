{#-
    Every delivered bill, with its delivery (id, date, line in the file): text trimmed, the amount parsed as exact yuan and bill_month normalised from
    any of its three forms (a day of the month, YYYY-MM, YYYYMM) to the month's first day; both null
    when the text is not in the contract's form.
-#}
with

source as (

    select * from {{ source('telecom', 'billing') }}

),

cleaned as (

    select
        {{ clean_text('bill_id') }} as bill_id,
        {{ clean_text('customer_id') }} as customer_id,
        delivery_id,
        {{ clean_text('bill_month') }} as bill_month_text,
        {{ clean_text('amount') }} as amount_text,
        file_line,
        delivered_on
    from source

),

parsed as (

    select
        -- ids
        bill_id,
        customer_id,
        delivery_id,

        -- strings
        bill_month_text,
        amount_text,

        -- numbers: yuan, exact; the row's line in its file
        {{ parse_amount('amount_text') }} as amount,
        file_line,

        -- dates
        {{ parse_bill_month('bill_month_text') }} as bill_month,
        delivered_on
    from cleaned

)

select * from parsed
