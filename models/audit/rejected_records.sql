{{ config(grants=published_grants()) }}

{#-
    Every delivered row that cannot be used, once per distinct row, with its table, id, reason and
    where its first copy came from (delivery and line).  Rows waiting for their customer are not
    rejects (yet): audit.waiting_records.
-#}
with

outcomes as (

    select * from {{ ref('int_delivered_rows_unioned') }}

),

final as (

    select
        cast(source_table as {{ dbt.type_string() }}) as source_table,
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(rejection_reason as {{ dbt.type_string() }}) as rejection_reason,
        cast(raw_values as {{ dbt.type_string() }}) as raw_values,
        cast(file_line as {{ dbt.type_bigint() }}) as file_line,
        cast(copies as integer) as delivered_copies
    from outcomes
    -- an accepted row has no reason in its table either: that filter is applied as the tables are read
    where validated_reason is not null and rejection_reason <> 'waiting'

)

select * from final
