{#-
    Every delivered subscription row, with its delivery (id, date, line in the file): text trimmed (empty = null), typed values parsed (null when the
    text is not in the contract's form), the brand code upper-cased and the number masked.  The raw
    number stops here: only its mask, whether it was 11 digits and a hash (to tell versions apart) go on.
-#}
with

source as (

    select * from {{ source('telecom', 'subscriptions') }}

),

cleaned as (

    select
        {{ clean_text('customer_id') }} as customer_id,
        delivery_id,
        {{ clean_text('msisdn') }} as msisdn,
        upper({{ clean_text('brand_code') }}) as brand_code,
        {{ clean_text('activation_date') }} as activation_date_text,
        {{ clean_text('termination_date') }} as termination_date_text,
        {{ clean_text('updated_at') }} as updated_at_text,
        file_line,
        delivered_on
    from source

),

parsed as (

    select
        -- ids
        customer_id,
        delivery_id,

        -- strings
        {{ mask_msisdn('msisdn') }} as msisdn_masked,
        {{ dbt.hash('msisdn') }} as msisdn_hash,
        brand_code,
        activation_date_text,
        termination_date_text,
        updated_at_text,

        -- numbers: the row's line in its file
        file_line,

        -- booleans
        {{ is_eleven_digits('msisdn') }} as has_valid_msisdn,

        -- dates
        {{ parse_date('activation_date_text') }} as activation_date,
        {{ parse_date('termination_date_text') }} as termination_date,
        delivered_on,

        -- timestamps
        {{ parse_timestamp('updated_at_text') }} as updated_at
    from cleaned

)

select * from parsed
