{#-
    Every delivered suspension event, with its delivery (id, date, line in the file): text trimmed,
    reason upper-cased, timestamps parsed (null when unreadable).
-#}
with

source as (

    select * from {{ source('telecom', 'suspensions') }}

),

cleaned as (

    select
        {{ clean_text('suspension_id') }} as suspension_id,
        {{ clean_text('customer_id') }} as customer_id,
        delivery_id,
        upper({{ clean_text('reason_code') }}) as reason_code,
        {{ clean_text('suspended_at') }} as suspended_at_text,
        {{ clean_text('resumed_at') }} as resumed_at_text,
        file_line,
        delivered_on
    from source

),

parsed as (

    select
        -- ids
        suspension_id,
        customer_id,
        delivery_id,

        -- strings
        reason_code,
        suspended_at_text,
        resumed_at_text,

        -- numbers: the row's line in its file
        file_line,

        -- dates
        delivered_on,

        -- timestamps
        {{ parse_timestamp('suspended_at_text') }} as suspended_at,
        {{ parse_timestamp('resumed_at_text') }} as resumed_at
    from cleaned

),

dated as (

    select
        *,
        -- the day of the suspension decides whether it is in the lookback window
        cast(suspended_at as date) as suspended_date
    from parsed

)

select * from dated
