{{ config(severity='warn') }}
{#- Any reject is worth a look (see audit.rejected_records): one row per table and reason. -#}
select
    source_table,
    rejection_reason,
    count(*) as rejected_rows
from {{ ref('rejected_records') }}
group by source_table, rejection_reason
