{{ config(grants=published_grants()) }}

{#-
    One row per delivery loaded (SPEC 6): when it was delivered and loaded, which files it held, and
    per raw table the rows it delivered = accepted + rejected + exact duplicates (+ waiting, for bills
    and suspensions whose customer has not been delivered yet: SPEC 8).  A distinct row is
    accepted or rejected in the delivery of its first copy (the earliest); every other copy of it, in
    that delivery or a later one, is an exact duplicate.
-#}
with

deliveries as (

    select * from {{ ref('stg_telecom__deliveries') }}

),

counted as (

    select * from {{ ref('int_deliveries_counted') }}

),

subscriptions as (

    select * from counted
    where source_table = 'subscriptions'

),

billing as (

    select * from counted
    where source_table = 'billing'

),

suspensions as (

    select * from counted
    where source_table = 'suspensions'

),

final as (

    select
        -- ids
        cast(deliveries.delivery_id as {{ dbt.type_string() }}) as delivery_id,

        -- numbers: per raw table, rows = accepted + rejected + duplicates (+ waiting)
        coalesce(subscriptions.raw_rows, 0) as subscriptions_rows,
        coalesce(subscriptions.accepted_rows, 0) as subscriptions_accepted,
        coalesce(subscriptions.rejected_rows, 0) as subscriptions_rejected,
        coalesce(subscriptions.duplicate_rows, 0) as subscriptions_duplicates,
        coalesce(subscriptions.superseded_rows, 0) as subscriptions_superseded,
        coalesce(billing.raw_rows, 0) as billing_rows,
        coalesce(billing.accepted_rows, 0) as billing_accepted,
        coalesce(billing.rejected_rows, 0) as billing_rejected,
        coalesce(billing.duplicate_rows, 0) as billing_duplicates,
        coalesce(billing.waiting_rows, 0) as billing_waiting,
        coalesce(suspensions.raw_rows, 0) as suspensions_rows,
        coalesce(suspensions.accepted_rows, 0) as suspensions_accepted,
        coalesce(suspensions.rejected_rows, 0) as suspensions_rejected,
        coalesce(suspensions.duplicate_rows, 0) as suspensions_duplicates,
        coalesce(suspensions.waiting_rows, 0) as suspensions_waiting,

        -- booleans
        deliveries.has_subscriptions_file,
        deliveries.has_billing_file,
        deliveries.has_suspensions_file,

        -- dates
        deliveries.delivered_on,

        -- timestamps
        deliveries.loaded_at
    from deliveries
    left join subscriptions
        on deliveries.delivery_id = subscriptions.delivery_id
    left join billing
        on deliveries.delivery_id = billing.delivery_id
    left join suspensions
        on deliveries.delivery_id = suspensions.delivery_id

)

select * from final
