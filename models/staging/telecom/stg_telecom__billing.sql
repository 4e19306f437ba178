with

source as (

    select * from {{ source('telecom', 'billing') }}

),

cleaned as (

    select
        {{ clean_text('bill_id') }} as bill_id,
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('bill_month') }} as bill_month,
        {{ clean_text('amount') }} as amount
    from source

),

renamed as (

    select
        -- ids
        bill_id,
        customer_id,

        -- numbers: yuan, exact
        cast(amount as decimal(12, 2)) as amount,

        -- dates: YYYYMM, YYYY-MM and YYYY-MM-DD all become the first day of the billing month
        cast(
            case
                when length(bill_month) = 6
                    then {{ dbt.concat([
                        "substring(bill_month, 1, 4)", "'-'", "substring(bill_month, 5, 2)", "'-01'"
                    ]) }}
                else {{ dbt.concat(["substring(bill_month, 1, 7)", "'-01'"]) }}
            end
            as date
        ) as bill_month
    from cleaned

)

select * from renamed
