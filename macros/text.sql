{#-
    Text as delivered -> text without leading and trailing spaces, an empty string read as null.
    Only the ASCII space is trimmed, the same on every engine (DuckDB's one-argument trim() would
    also strip Unicode spaces, PostgreSQL's and Spark's do not).  Most values have no space to trim
    and are passed on as they are, without the copy a trim makes: 3x faster on 145 million bill ids.
-#}
{% macro clean_text(expression) -%}
    {%- set text = "cast(" ~ expression ~ " as " ~ dbt.type_string() ~ ")" -%}
    nullif(
        case
            when {{ text }} like ' %' or {{ text }} like '% ' then trim(both ' ' from {{ text }})
            else {{ text }}
        end,
        ''
    )
{%- endmacro %}


{#- True when the whole text matches the regular expression (false for null). -#}
{% macro matches_pattern(expression, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern', 'credit_score')(expression, pattern)) }}
{%- endmacro %}

{% macro default__matches_pattern(expression, pattern) -%}
    coalesce(regexp_full_match({{ expression }}, '{{ pattern }}'), false)
{%- endmacro %}

{% macro postgres__matches_pattern(expression, pattern) -%}
    coalesce({{ expression }} ~ '^(?:{{ pattern }})$', false)
{%- endmacro %}

{% macro spark__matches_pattern(expression, pattern) -%}
    coalesce({{ expression }} rlike '^(?:{{ pattern }})$', false)
{%- endmacro %}


{#- True when the text is exactly 11 ASCII digits (a mainland mobile number). -#}
{% macro is_eleven_digits(expression) -%}
    {{ matches_pattern(expression, '[0-9]{11}') }}
{%- endmacro %}


{#- 13812341234 -> 138****1234; anything that is not 11 digits -> null. -#}
{% macro mask_msisdn(expression) -%}
    case
        when {{ is_eleven_digits(expression) }}
            then {{ dbt.concat([
                "substring(" ~ expression ~ ", 1, 3)",
                "'****'",
                "substring(" ~ expression ~ ", 8, 4)",
            ]) }}
    end
{%- endmacro %}


{#- A JSON object of (key, value expression) pairs, as text: the raw values kept in the audit. -#}
{% macro json_object_text(pairs) -%}
    {{ return(adapter.dispatch('json_object_text', 'credit_score')(pairs)) }}
{%- endmacro %}

{% macro default__json_object_text(pairs) -%}
    cast(json_object(
        {%- for key, value in pairs %}'{{ key }}', {{ value }}{{ ", " if not loop.last }}{% endfor -%}
    ) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro postgres__json_object_text(pairs) -%}
    cast(json_build_object(
        {%- for key, value in pairs %}'{{ key }}', {{ value }}{{ ", " if not loop.last }}{% endfor -%}
    ) as text)
{%- endmacro %}

{% macro spark__json_object_text(pairs) -%}
    to_json(named_struct(
        {%- for key, value in pairs %}'{{ key }}', {{ value }}{{ ", " if not loop.last }}{% endfor -%}
    ))
{%- endmacro %}


{#-
    Each distinct row of `relation` once, with `copies`: how many identical rows were delivered.
    The validation models use it so that an exact duplicate is kept once and counted, never lost.
-#}
{% macro collapse_exact_duplicates(relation, columns) -%}
    select
        {%- for column in columns %}
        {{ column }},
        {%- endfor %}
        count(*) as copies
    from {{ relation }}
    group by
        {%- for column in columns %}
        {{ column }}{{ "," if not loop.last }}
        {%- endfor %}
{%- endmacro %}


{#-
    The 64-bit hashes (as id_hash) of the keys of `relation` that occur more than once.  Repeated keys
    are rare, and finding them on a small fixed-width hash instead of the text is the cheap way; two
    keys sharing a hash only send both rows to the caller's exact comparison, so a result never
    depends on the hash.
-#}
{% macro repeated_key_hashes(relation, key) -%}
    select {{ hash_of(key) }} as id_hash
    from {{ relation }}
    group by {{ hash_of(key) }}
    having count(*) > 1
{%- endmacro %}


{#- A 64-bit hash of a text value, for finding repeated keys cheaply (never trusted alone). -#}
{% macro hash_of(expression) -%}
    {{ return(adapter.dispatch('hash_of', 'credit_score')(expression)) }}
{%- endmacro %}

{% macro default__hash_of(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro postgres__hash_of(expression) -%}
    hashtextextended({{ expression }}, 0)
{%- endmacro %}

{% macro spark__hash_of(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}
