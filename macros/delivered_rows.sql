{#-
    The one shape of the three validation models: each distinct delivered row once, over the union
    of all deliveries, with how many identical copies came (`copies`), where its first copy came
    from (the earliest delivered_on, then the lowest line, then the delivery id: `delivery_id`,
    `file_line`, `first_delivered_on`), when its latest copy came (`latest_delivered_on`), and how
    its key's versions rank (`version_rank`; `latest_versions`: how many distinct rows share the top
    rank; without rank_by every distinct row of a key ranks first, so a key with two distinct rows
    has latest_versions 2: a conflict).

    A full build takes every staged row.  An incremental build takes the rows of the deliveries the
    model has not absorbed, plus its own rows (`this`) of the keys those rows carry and of the keys
    `touched` names (rows to judge again, e.g. bills of a customer who has just arrived); it then
    writes back exactly those keys (unique_key key_hash).  A distinct row kept in `this` carries its
    copies and first and latest copy, so merging it with new copies gives what a full build gives
    from raw, and raw's earlier deliveries are never read again.

    Rows are routed on a 64-bit hash of the key (`key_hash`, 0 for a null key): a key seen once
    passes straight through; only keys seen more than once (rare) are compared, exactly, by their
    columns.  Two keys sharing a hash are only compared together, so no result depends on the hash.
    The candidate rows are read three times as subqueries, not as one CTE: a CTE read twice would be
    materialised whole, which at 145 million bills no longer fits in memory.  The kept rows to judge
    again are found before the model runs, on the key column alone, and written into its SQL as a
    list of key hashes (none: the kept rows are not read at all; more than var
    kept_keys_literal_limit: read from kept_keys_source): reading every kept row's columns to find
    them cost a month 12 s at 10 million customers.  On Spark a full build writes the repeated keys
    first into a table of their own (stage_repeated_keys), read by the two CTEs that need them.

    Emits CTEs (to follow `with` or a comma): repeated_key_hashes, single_rows, compared_copies,
    compared_rows, distinct_rows.  `columns` make a row distinct; `carried` depend on them (parsed
    values), and are carried along from the first copy.
-#}
{% macro delivered_rows_ctes(staged, key, columns, carried=[], rank_by=none, touched=none) -%}
    {%- set incremental = is_incremental() -%}
    {%- set new_ids = new_delivery_ids() if incremental else [] -%}
    {%- set row_columns = columns + carried -%}
    {%- set row_list = row_columns | join(', ') -%}
    {#- incremental: the keys of the kept rows to judge again, found first on the narrow key column
        (the new rows' keys among every kept key, and the keys `touched` names), so that the kept
        rows' other columns are read only for those: usually none, and then not at all -#}
    {%- set kept_keys -%}
        select distinct kept.key_hash from {{ this }} as kept
        where kept.key_hash in (
            select {{ key_hash(key) }} from {{ staged }}
            where {{ delivery_id_in(new_ids) }}
            {%- if touched %}
            union all
            {{ touched }}
            {%- endif %}
        )
    {%- endset %}
    {%- set kept = [] -%}
    {%- if incremental and execute -%}
        {%- set kept = run_query(kept_keys).columns[0].values() | list -%}
    {%- endif -%}
    {#- more than a literal list should hold: read again where they are (staged on Spark) -#}
    {%- set kept_source = kept_keys_source(kept_keys) if kept | length > var('kept_keys_literal_limit') else none -%}
    {%- set candidates -%}
        select
            {{ row_list }},
            delivery_id,
            file_line,
            delivered_on as first_delivered_on,
            1 as copies,
            delivered_on as latest_delivered_on
        from {{ staged }}
        {%- if incremental %}
        where {{ delivery_id_in(new_ids) }}
        {%- if kept %}
        union all
        select
            {{ row_list }},
            delivery_id,
            file_line,
            first_delivered_on,
            copies,
            latest_delivered_on
        from {{ this }}
        where key_hash in (
            {%- if kept_source is none %}
            {{ kept | join(', ') }}
            {%- else %}
            {{ kept_source }}
            {%- endif %}
        )
        {%- endif %}
        {%- endif %}
    {%- endset %}

    {%- set repeated -%}
    select {{ key_hash(key) }} as key_hash
    from ({{ candidates }}) as candidates
    group by {{ key_hash(key) }}
    having count(*) > 1
    {%- endset %}
    {%- set staged_repeated = stage_repeated_keys(repeated) %}

repeated_key_hashes as (

    -- keys delivered more than once (versions or copies): only they need comparing
    {%- if staged_repeated %}
    select key_hash from {{ staged_repeated }}
    {%- else %}
    {{ repeated }}
    {%- endif %}

),

single_rows as (

    -- the common case: a key delivered once is its own only version and first copy
    select
        {%- for column in row_columns %}
            candidates.{{ column }},
        {%- endfor %}
        {{ key_hash('candidates.' ~ key) }} as key_hash,
        candidates.delivery_id,
        candidates.file_line,
        candidates.first_delivered_on,
        candidates.copies,
        candidates.latest_delivered_on,
        1 as version_rank,
        1 as latest_versions
    from ({{ candidates }}) as candidates
    left join repeated_key_hashes
        on {{ key_hash('candidates.' ~ key) }} = repeated_key_hashes.key_hash
    where repeated_key_hashes.key_hash is null

),

compared_copies as (

    -- each distinct row of a repeated key once: its copies summed, its first and latest copy
    select
        {{ row_list }},
        key_hash,
        delivery_id,
        file_line,
        first_delivered_on,
        copies,
        latest_delivered_on,
        {%- if rank_by %}
        rank() over (partition by {{ key }} order by {{ rank_by }}) as version_rank
        {%- else %}
        1 as version_rank
        {%- endif %}
    from (
        select
            {{ row_list }},
            {{ key_hash(key) }} as key_hash,
            delivery_id,
            file_line,
            first_delivered_on,
            sum(copies) over (partition by {{ columns | join(', ') }}) as copies,
            max(latest_delivered_on) over (partition by {{ columns | join(', ') }}) as latest_delivered_on,
            row_number() over (
                partition by {{ columns | join(', ') }}
                order by first_delivered_on, file_line, {{ byte_order('delivery_id') }}
            ) as copy_number
        from ({{ candidates }}) as candidates
        where {{ key_hash(key) }} in (select repeated_key_hashes.key_hash from repeated_key_hashes)
    ) as numbered
    where copy_number = 1

),

compared_rows as (

    select
        *,
        sum(case when version_rank = 1 then 1 else 0 end) over (partition by {{ key }}) as latest_versions
    from compared_copies

),

distinct_rows as (

    -- single_rows and compared_rows have the same columns in the same order
    select * from single_rows
    union all
    select * from compared_rows

)
{%- endmacro %}



{#-
    Where delivered_rows_ctes reads the repeated keys from (a relation), or none: then they are a CTE.
    Spark computes a CTE again at each of its two references, and plans the joins with it before
    knowing its size: a sort-merge join that shuffles and sorts every candidate row (13.6 million
    bills) to meet the few repeated keys.  Written first into a table (staged_relation('keys'),
    in the model's schema; dropped by the model's post-hook drop_staged('keys'), and before it
    is written again), they are computed once, and Spark, reading the table's size, broadcasts them
    when they are few (docs/performance.md: the first build's validation of 13.6 million bills on one
    core from 103 s to 48 s before the write) and joins by shuffling when they are many.  Only a full
    build does this: an incremental build's candidates are its new deliveries' rows, and with the CTE
    Spark's adaptive execution drops the whole compare when it finds no repeated key, which a table
    it has not read hides from it (a month's validation took twice as long staged).  A unit test
    renders the model on its fixtures, which only the model's own SQL holds: the CTE there too.
-#}
{% macro stage_repeated_keys(repeated) -%}
    {{ return(adapter.dispatch('stage_repeated_keys', 'credit_score')(repeated)) }}
{%- endmacro %}

{% macro default__stage_repeated_keys(repeated) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__stage_repeated_keys(repeated) -%}
    {%- if model.resource_type == 'unit_test' or is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(write_staged('keys', repeated)) }}
{%- endmacro %}

{#- A table the current model stages on Spark, `<model>__staged_<kind>` in its schema: `keys`, the
    repeated keys of a full build (stage_repeated_keys) or the kept keys of an incremental one
    (kept_keys_source), never both; `rows`, an incremental build's computed rows
    (get_insert_overwrite_sql). -#}
{% macro staged_relation(kind) -%}
    {{ return(this.incorporate(path={'identifier': this.identifier ~ '__staged_' ~ kind})) }}
{%- endmacro %}

{#- Spark: the rows `select` finds written into staged_relation(kind) (a parquet table, dropped first
    in case a stopped build left it), which is returned. -#}
{% macro write_staged(kind, select) -%}
    {%- set staged = staged_relation(kind) -%}
    {%- if execute -%}
        {%- do run_query('drop table if exists ' ~ staged) -%}
        {%- do run_query('create table ' ~ staged ~ ' using parquet as ' ~ select) -%}
    {%- endif -%}
    {{ return(staged) }}
{%- endmacro %}

{#-
    SQL: where an incremental build reads the keys of its kept rows to judge again from, when they
    are more than a literal list in its SQL should hold (var kept_keys_literal_limit, 10,000; a
    month's subscriptions updating 10,533 customers of a million): the query that found them
    (kept_keys), again.  DuckDB and PostgreSQL run it where it stands.  Spark would run it at each
    of the four places the candidate rows are read (a CTE is inlined at each reference) and plan
    the join before knowing its size: it is written into a table first (staged_relation('keys'),
    dropped by the post-hook drop_staged('keys') and before it is written again), which Spark reads
    once and, knowing its size, broadcasts.
-#}
{% macro kept_keys_source(kept_keys) -%}
    {{ return(adapter.dispatch('kept_keys_source', 'credit_score')(kept_keys)) }}
{%- endmacro %}

{% macro default__kept_keys_source(kept_keys) -%}
    {{ return(kept_keys) }}
{%- endmacro %}

{% macro spark__kept_keys_source(kept_keys) -%}
    {{ return('select key_hash from ' ~ write_staged('keys', kept_keys)) }}
{%- endmacro %}

{#- The post-hook of a model that stages a table on Spark: staged_relation(kind) dropped (nothing
    elsewhere).  The validation models drop their keys, the models get_insert_overwrite_sql stages
    rows for their rows. -#}
{% macro drop_staged(kind) -%}
    {{ return(adapter.dispatch('drop_staged', 'credit_score')(kind)) }}
{%- endmacro %}

{% macro default__drop_staged(kind) -%}
{%- endmacro %}

{% macro spark__drop_staged(kind) -%}
    drop table if exists {{ staged_relation(kind) }}
{%- endmacro %}


{#-
    The columns each validation model ends with: the row's outcome (rejection_reason, and raw_values,
    the delivered text as JSON from the (key, column) pairs `raw_values`, built only where the row
    is rejected: JSON for every accepted row would be most of the cost) and its bookkeeping from
    delivered_rows_ctes.  int_delivered_rows_unioned reads them of all three models.
-#}
{% macro delivered_row_outcome_columns() -%}
    {{ return([
        'rejection_reason', 'raw_values', 'copies', 'file_line',
        'first_delivered_on', 'latest_delivered_on', 'loaded_through',
    ]) }}
{%- endmacro %}

{% macro delivered_row_outcome(raw_values) -%}
    {%- set expressions = {
        'raw_values': 'case when rejection_reason is not null then ' ~ json_object_text(raw_values) ~ ' end',
        'copies': 'cast(copies as integer)',
        'loaded_through': loaded_through(),
    } -%}
    {%- for column in delivered_row_outcome_columns() %}
        {{ expressions[column] ~ ' as ' ~ column if column in expressions else column }}
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Text compared byte by byte, whatever the database's collation (PostgreSQL's may sort by locale). -#}
{% macro byte_order(expression) -%}
    {{ return(adapter.dispatch('byte_order', 'credit_score')(expression)) }}
{%- endmacro %}

{% macro default__byte_order(expression) -%}
    {{ expression }}
{%- endmacro %}

{% macro postgres__byte_order(expression) -%}
    {{ expression }} collate "C"
{%- endmacro %}


{#-
    For delivered_rows_ctes' `touched`: the kept rows (by key hash) of the customers whose acceptance
    changed since this model's last build (a late customer arrived, a version was superseded), so
    that their bills and suspensions are judged again.  Only the rows whose reason can change are
    read: of a customer now accepted, those rejected for the customer (unknown_customer,
    customer_rejected) - a filter on the reason, which skips the row groups of accepted rows; of a
    customer now without an accepted version (rare, and then read), the accepted ones and the
    unknown_customer ones.
-#}
{% macro keys_of_customers_resolved_since_last_build() -%}
    {%- set since -%}
        select customer_id from {{ ref('int_customer_ids_resolved') }}
        where loaded_through > {{ absorbed_through() }}
    {%- endset -%}
    {%- set now_rejected = true -%}
    {%- if execute and is_incremental() -%}
        {%- set now_rejected = run_query(
            "select count(*) from (" ~ since ~ " and not has_accepted_version) as changed"
        ).columns[0].values()[0] > 0 -%}
    {%- endif -%}
    {%- set keys -%}
        select key_hash from {{ this }}
        where
            rejection_reason in ('unknown_customer', 'customer_rejected')
            and customer_id in ({{ since }} and has_accepted_version)
        {%- if now_rejected %}
        union all
        select key_hash from {{ this }}
        where
            (rejection_reason is null or rejection_reason = 'unknown_customer')
            and customer_id in ({{ since }} and not has_accepted_version)
        {%- endif %}
    {%- endset -%}
    {{ return(keys) }}
{%- endmacro %}


{#-
    A validated row's outcome on the as-of date D (SPEC 8): the validation models judge a row whose
    customer is not delivered (yet) `unknown_customer`, whatever D; on D it is `waiting` while D's
    month is less than var max_wait_months months after the month of its first copy's delivery date,
    and a reject `unknown_customer` from then on.  Only the audit reads it this way (the row is not
    accepted either way), so the validation models stay the same for every D and a build of another
    date judges no row again.
-#}
{% macro outcome_on_as_of_date(rejection_reason, first_delivered_on) -%}
    case
        when
            {{ rejection_reason }} = 'unknown_customer'
            and {{ month_start(as_of_date()) }} < {{ waiting_ends(first_delivered_on) }}
            then 'waiting'
        else {{ rejection_reason }}
    end
{%- endmacro %}

{#- delivered_row_outcome_columns of a validation model, the reason as on the as-of date. -#}
{% macro delivered_row_outcome_on_as_of_date() -%}
    {%- for column in delivered_row_outcome_columns() %}
        {%- if column == 'rejection_reason' %}
            {{ outcome_on_as_of_date('rejection_reason', 'first_delivered_on') }} as rejection_reason
        {%- else %}
            {{ column }}
        {%- endif %}
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The first month whose build rejects a row still waiting (the month start of D from which it is
    `unknown_customer`), for a row first delivered on first_delivered_on. -#}
{% macro waiting_ends(first_delivered_on) -%}
    {{ add_months(month_start(first_delivered_on), var('max_wait_months')) }}
{%- endmacro %}
