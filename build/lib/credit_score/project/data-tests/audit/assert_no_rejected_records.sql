{{ config(severity='warn') }}
{#-
    Any reject is worth a look (see audit.rejected_records): one row per table and reason.  Superseded
    subscription versions are not: a newer version arriving in a later delivery is how the CRM reports
    a change.
-#}
select
    source_table,
    rejection_reason,
    count(*) as rejected_rows
from {{ ref('rejected_records') }}
where rejection_reason <> 'superseded'
group by source_table, rejection_reason
