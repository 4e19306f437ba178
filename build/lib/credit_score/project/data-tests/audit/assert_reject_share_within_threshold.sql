{#-
    More rejects than var max_reject_share (default 1 %) of a table's rows means something upstream is
    broken: fail the build rather than score a partial population.  Superseded subscription versions
    are history, not errors, and do not count.  Returns the tables over the threshold.
-#}
select
    source_table,
    raw_rows,
    rejected_rows,
    superseded_rows
from {{ ref('reconciliation') }}
where rejected_rows - superseded_rows > raw_rows * {{ var('max_reject_share') }}
