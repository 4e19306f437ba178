{#-
    Whether a suspension costs points (SPEC 1): its reason's is_penalised from the reasons seed (the
    left-joined column `seed_is_penalised`); a reason code missing from the seed is penalised unless
    the var penalise_unknown_suspension_reasons is false.
-#}
{% macro is_penalised(seed_is_penalised) -%}
    coalesce({{ seed_is_penalised }}, {{ 'true' if var('penalise_unknown_suspension_reasons') else 'false' }})
{%- endmacro %}
