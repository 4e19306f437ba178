{#-
    Incremental builds (SPEC 6: a build reads and writes what the new deliveries change).

    Each incremental model keeps, in the ledger table `incremental_ledger`, the deliveries (id and
    load time) that raw held when it last built: its post-hook rewrites its rows there in the same
    transaction as the model's own write, so a killed or failed build leaves both as they were.
    What is new for a model is then exact:
    - a model that reads raw takes the deliveries raw holds and its ledger does not
      (`new_delivery_ids`);
    - a model that reads another incremental model takes that model's rows recomputed since it last
      built: every row an incremental model writes carries `loaded_through`, the load time of the
      newest delivery raw held then, and `absorbed_through()` is the newest load in the reader's ledger.
      The loader keeps load times rising (credit_score.deliveries), so a later build never stamps an
      earlier time.
    A delivery in a ledger that raw no longer holds (reloaded under the same id, or raw replaced) has
    been partly absorbed and cannot be taken back row by row: the model refuses, and `credit-score
    build` recomputes everything (`--full-refresh`) instead.

    On Spark the tables are parquet, which cannot delete rows: each model is partitioned
    (`incremental_partition_by`) and a build overwrites exactly the partitions its rows fall in
    (dynamic partition overwrite), writing again the rows it keeps there (`get_insert_overwrite_sql`).
    The ledger is a parquet table partitioned by model, its partition rewritten by the post-hook; with
    no transaction between the two writes, credit_score.engines.spark notices a model written after
    its ledger (a killed build) and recomputes everything.
-#}

{#- How an incremental model writes: delete+insert on its unique_key; on Spark, partition overwrite. -#}
{% macro incremental_strategy() -%}
    {{ return(adapter.dispatch('incremental_strategy', 'credit_score')()) }}
{%- endmacro %}

{% macro default__incremental_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__incremental_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}


{#- The partition column of an incremental model on Spark (none elsewhere: rows are deleted by key). -#}
{% macro incremental_partition_by(column) -%}
    {{ return(adapter.dispatch('incremental_partition_by', 'credit_score')(column)) }}
{%- endmacro %}

{% macro default__incremental_partition_by(column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__incremental_partition_by(column) -%}
    {{ return(column) }}
{%- endmacro %}


{#-
    SQL: a select-list item (with its leading comma) for the models whose columns hold nothing a
    month would group by: on Spark, `key_bucket`, a bucket of the key's hash, to partition by (a key
    always falls in the same bucket); nothing elsewhere.
-#}
{% macro spark_key_bucket(key_hash) -%}
    {{ return(adapter.dispatch('spark_key_bucket', 'credit_score')(key_hash)) }}
{%- endmacro %}

{% macro default__spark_key_bucket(key_hash) -%}
{%- endmacro %}

{% macro spark__spark_key_bucket(key_hash) -%}
    , cast(pmod({{ key_hash }}, {{ var('spark_key_buckets') }}) as int) as key_bucket
{%- endmacro %}


{#-
    Spark's insert_overwrite: dbt-spark's get_insert_overwrite_sql, overridden (dbt calls the root
    project's macro of that name).  A partition is overwritten whole, so a model whose unique_key is
    not its partition column (the validation models, keyed by id and partitioned by key bucket or bill
    month; int_customer_months_summed) writes with the rows it computed the rows it keeps in the
    partitions those touch, except those of the keys computed again.  Every row of a key computed
    again is among the computed rows (the validation models carry a key's kept rows along), so a key's
    earlier rows lie in the partitions touched, and no partition keeps a replaced row.  The computed
    rows are read three times (themselves, the partitions they touch, the keys they replace), and
    Spark computes a view again at every reference: they are written first into `<model>__staged_rows`
    (write_staged; dropped by the post-hook drop_staged('rows')).  A model partitioned by its key
    (the history's marts, by as_of_date) computes its partitions whole: dbt-spark's statement.
-#}
{% macro get_insert_overwrite_sql(source_relation, target_relation, existing_relation) -%}
    {%- set keys = config.get('unique_key') -%}
    {%- set keys = [keys] if keys is string else (keys or []) -%}
    {%- set partitions = config.get('partition_by') -%}
    {%- set partitions = [partitions] if partitions is string else (partitions or []) -%}
    {%- set columns = adapter.get_columns_in_relation(target_relation) | map(attribute='quoted') | list -%}
    insert overwrite table {{ target_relation }}
    {{ partition_cols(label="partition") }}
    {%- if keys and partitions and keys != partitions %}
    {%- set staged = write_staged('rows', 'select * from ' ~ source_relation) %}
    select {{ columns | join(', ') }} from {{ staged }}
    union all
    select {% for column in columns %}kept.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from {{ target_relation }} as kept
    left semi join (select distinct {{ partitions | join(', ') }} from {{ staged }}) as touched
        on {% for column in partitions %}kept.{{ column }} <=> touched.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
    left anti join {{ staged }} as computed
        on {% for key in keys %}kept.{{ key }} = computed.{{ key }}{{ ' and ' if not loop.last }}{% endfor %}
    {%- else %}
    select {{ columns | join(', ') }} from {{ source_relation }}
    {%- endif %}
{%- endmacro %}


{#- Where the ledger lives: the target's own schema (DuckDB: the work file's main; PostgreSQL: public). -#}
{% macro ledger_relation() -%}
    {%- set database = target.database if target.database is defined else none -%}
    {{ return(api.Relation.create(database=database, schema=target.schema, identifier='incremental_ledger')) }}
{%- endmacro %}


{#- The ledger's DDL, run by prepare_warehouse (on-run-start). -#}
{% macro create_ledger() -%}
    {{ return(adapter.dispatch('create_ledger', 'credit_score')()) }}
{%- endmacro %}

{% macro default__create_ledger() -%}
    create table if not exists {{ ledger_relation() }} (
        model_name {{ dbt.type_string() }} not null,
        delivery_id {{ dbt.type_string() }} not null,
        loaded_at {{ dbt.type_timestamp() }} not null
    )
{%- endmacro %}

{% macro spark__create_ledger() -%}
    create table if not exists {{ ledger_relation() }} (
        delivery_id string,
        loaded_at timestamp,
        model_name string
    ) using parquet partitioned by (model_name)
{%- endmacro %}


{#-
    The model's post-hook: its ledger rows become the deliveries raw holds now (the ones it has just
    absorbed).  Runs inside the model's transaction.
-#}
{% macro record_absorbed_deliveries() -%}
    {{ return(adapter.dispatch('record_absorbed_deliveries', 'credit_score')()) }}
{%- endmacro %}

{% macro default__record_absorbed_deliveries() -%}
    delete from {{ ledger_relation() }} where model_name = '{{ this.identifier }}';
    insert into {{ ledger_relation() }} (model_name, delivery_id, loaded_at)
    select '{{ this.identifier }}', delivery_id, loaded_at
    from {{ ref('stg_telecom__deliveries') }}
{%- endmacro %}

{% macro spark__record_absorbed_deliveries() -%}
    insert overwrite table {{ ledger_relation() }} partition (model_name = '{{ this.identifier }}')
    select delivery_id, loaded_at
    from {{ ref('stg_telecom__deliveries') }}
{%- endmacro %}


{#-
    The deliveries raw holds that this model has not absorbed yet (a list of ids).  Refuses when a
    delivery the model absorbed is no longer in raw as it was.  Only meaningful when is_incremental().
-#}
{% macro new_delivery_ids() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set changes -%}
        select 'new' as change, delivered.delivery_id
        from {{ ref('stg_telecom__deliveries') }} as delivered
        where not exists (
            select 1 from {{ ledger_relation() }} as ledger
            where
                ledger.model_name = '{{ this.identifier }}'
                and ledger.delivery_id = delivered.delivery_id
                and ledger.loaded_at = delivered.loaded_at
        )
        union all
        select 'gone' as change, ledger.delivery_id
        from {{ ledger_relation() }} as ledger
        where
            ledger.model_name = '{{ this.identifier }}'
            and not exists (
                select 1 from {{ ref('stg_telecom__deliveries') }} as delivered
                where
                    delivered.delivery_id = ledger.delivery_id
                    and delivered.loaded_at = ledger.loaded_at
            )
        union all
        select 'never' as change, null as delivery_id
        from (
            select count(*) as absorbed from {{ ledger_relation() }}
            where model_name = '{{ this.identifier }}'
        ) as ledger_rows
        where ledger_rows.absorbed = 0
    {%- endset -%}
    {%- set rows = run_query(changes).rows -%}
    {%- set gone = rows | selectattr(0, 'equalto', 'gone') | map(attribute=1) | list -%}
    {%- if gone or rows | selectattr(0, 'equalto', 'never') | list -%}
        {{ exceptions.raise_compiler_error(
            this.identifier ~ " cannot be built incrementally: "
            ~ ("deliveries " ~ (gone | join(', ')) ~ " were reloaded or removed since it absorbed them"
               if gone else "it was built by an earlier version, which kept no ledger")
            ~ ". Rebuild everything with `dbt build --full-refresh` (`credit-score build` does so by itself)."
        ) }}
    {%- endif -%}
    {{ return(rows | selectattr(0, 'equalto', 'new') | map(attribute=1) | list) }}
{%- endmacro %}


{#-
    SQL: the newest load in this model's ledger (rows recomputed upstream after it are new here).  In
    an incremental run it is read first and written as a literal, so that a scan filtered on
    `loaded_through > absorbed_through()` skips the row groups written before (a subquery would be
    evaluated per scan, and every row group read: 152M bill stamps at 10M customers).
-#}
{% macro absorbed_through() -%}
    {%- set newest -%}
        select max(ledger.loaded_at) from {{ ledger_relation() }} as ledger
        where ledger.model_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- if execute and is_incremental() -%}
        {%- set value = run_query(newest).columns[0].values()[0] -%}
        {%- if value is none -%}
            cast(null as {{ dbt.type_timestamp() }})
        {%- else -%}
            cast('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
        {%- endif -%}
    {%- else -%}
        ({{ newest }})
    {%- endif -%}
{%- endmacro %}


{#- SQL: the stamp of the rows written by this build, the load time of the newest delivery in raw. -#}
{% macro loaded_through() -%}
    (select max(delivered.loaded_at) from {{ ref('stg_telecom__deliveries') }} as delivered)
{%- endmacro %}


{#- SQL: a condition on delivery_id that keeps the given deliveries' rows (none: false). -#}
{% macro delivery_id_in(ids) -%}
    {%- if ids -%}
        delivery_id in ({% for id in ids %}'{{ id | replace("'", "''") }}'{{ ", " if not loop.last }}{% endfor %})
    {%- else -%}
        1 = 0
    {%- endif -%}
{%- endmacro %}


{#- SQL: a condition that keeps the rows whose date column is one of the given dates (none: false). -#}
{% macro date_in(column, dates) -%}
    {%- if dates -%}
        {%- set literals = [] -%}
        {%- for d in dates -%}
            {%- do literals.append("cast('" ~ d.strftime("%Y-%m-%d") ~ "' as date)") -%}
        {%- endfor -%}
        {{ column }} in ({{ literals | join(', ') }})
    {%- else -%}
        1 = 0
    {%- endif -%}
{%- endmacro %}


{#-
    SQL: a condition on the rows of a model built from the history's consecutive dates (as_of_date
    and previous_as_of_date: the latest earlier date in the history) that holds for the build's date
    and the next date after it, the only dates whose previous date is at most the build's: a month
    built late (or again) becomes the next date's previous one.
-#}
{% macro build_and_next_date() -%}
    (as_of_date >= {{ as_of_date() }} and previous_as_of_date <= {{ as_of_date() }})
{%- endmacro %}


{#-
    The contracted text type (the marts' YAML anchor &text_type): string on Spark, varchar elsewhere.
    An incremental model casts its text columns to it, because on_schema_change compares the types
    of the new rows with the table's and PostgreSQL's text is not its varchar.
-#}
{% macro contract_text_type() -%}
    {{ return('string' if target.type == 'spark' else 'varchar') }}
{%- endmacro %}


{#-
    For the tests that look only where the latest build wrote (written_last_only, unique_among_accepted):
    {'stamp': the newest loaded_through of `model` as a SQL literal, 'everything': whether every row
    carries it}.  Read before the test runs, so that its SQL can take one of two shapes: after a full
    build (every row written last) a plain aggregate over the table, which spills to disk; after an
    incremental one a lookup of the rows written last, a join whose build side is the build's rows
    only.  (A join over all of history followed by an aggregate holds both in memory at once.)
-#}
{% macro written_last(model) -%}
    {#- not executing (parsing), or compiled where the model is not built (dbt docs on the served file) -#}
    {%- if not execute or load_relation(model) is none -%}
        {{ return({'stamp': 'null', 'everything': true}) }}
    {%- endif -%}
    {%- set found = run_query(
        'select max(loaded_through), min(loaded_through) from ' ~ model
    ).rows[0] -%}
    {%- if found[0] is none -%}
        {{ return({'stamp': 'null', 'everything': true}) }}
    {%- endif -%}
    {{ return({
        'stamp': "cast('" ~ found[0].strftime('%Y-%m-%d %H:%M:%S.%f') ~ "' as " ~ dbt.type_timestamp() ~ ")",
        'everything': found[0] == found[1],
    }) }}
{%- endmacro %}


{#-
    The dates of the history next to the as-of date D, as Python dates (none where there is none):
    `previous` the latest before D, `next` the earliest after it, and `d` D itself.  Read before the
    model or test that needs them runs, so that its scan of the history is filtered by literal dates
    and skips the row groups of every other month kept (a subquery would be evaluated per scan, and
    every month read).  Not executing (parsing), in a unit test, or no history yet: all none, and
    the caller reads the history unfiltered.
-#}
{% macro history_dates_around(history) -%}
    {%- set around = {'previous': none, 'd': none, 'next': none} -%}
    {#- a unit test's history is its fixture rows (no table to ask); a history not built yet (sqlfluff's
        templater compiles against an empty database) has no dates -#}
    {%- if execute and model.resource_type != 'unit_test' and load_relation(history) is not none -%}
        {%- set found = run_query(
            'select max(case when as_of_date < ' ~ as_of_date() ~ ' then as_of_date end), '
            ~ 'min(case when as_of_date > ' ~ as_of_date() ~ ' then as_of_date end) from ' ~ history
        ).rows[0] -%}
        {%- do around.update({
            'previous': found[0],
            'd': modules.datetime.date.fromisoformat(as_of_date_value()),
            'next': found[1],
        }) -%}
    {%- endif -%}
    {{ return(around) }}
{%- endmacro %}


{#- The rows whose `columns` hold one of the `values` (rows of literals, one per combination): an IN
    list for one column, an OR of ANDs for several. -#}
{% macro narrowed_to(columns, values, prefix='') -%}
    {%- if columns | length == 1 -%}
        {{ prefix }}{{ columns[0] }} in (
            {%- for row in values %}{{ sql_literal(row[0]) }}{{ ', ' if not loop.last }}{% endfor -%}
        )
    {%- else -%}
        (
        {%- for row in values %}
            {{ 'or ' if not loop.first }}(
            {%- for column in columns -%}
                {{ ' and ' if not loop.first }}{{ prefix }}{{ column }} = {{ sql_literal(row[loop.index0]) }}
            {%- endfor -%}
            )
        {%- endfor %}
        )
    {%- endif -%}
{%- endmacro %}


{#- A Python value read back by run_query as a SQL literal: text quoted, a date or timestamp cast, a number as it is. -#}
{% macro sql_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is string -%}
        '{{ value | replace("'", "''") }}'
    {%- elif value.hour is defined -%}
        cast('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as {{ dbt.type_timestamp() }})
    {%- elif value.year is defined -%}
        cast('{{ value.strftime("%Y-%m-%d") }}' as date)
    {%- else -%}
        {{ value }}
    {%- endif -%}
{%- endmacro %}
