{#
    Every scored customer's star is the highest star level whose threshold the credit score reaches,
    recomputed from credit_score and the star seed (not from the mart's own band join), and its label
    is that level's label.  Returns the customers whose star or label differ.
#}
with

scores as (

    select * from {{ ref('customer_credit_score') }}

),

star_levels as (

    select * from {{ ref('star_levels') }}

),

expected as (

    select
        scores.customer_id,
        max(star_levels.star_level) as expected_star_level
    from scores
    inner join star_levels
        on
            star_levels.min_score_inclusive is null
            or scores.credit_score >= star_levels.min_score_inclusive
    group by scores.customer_id

)

select
    scores.customer_id,
    scores.credit_score,
    scores.star_level,
    scores.star_label,
    expected.expected_star_level,
    star_levels.star_label as expected_star_label
from scores
left join expected
    on scores.customer_id = expected.customer_id
left join star_levels
    on expected.expected_star_level = star_levels.star_level
where
    expected.expected_star_level is null
    or scores.star_level <> expected.expected_star_level
    or scores.star_label <> star_levels.star_label
