{#
    Every scored customer's star is the highest star level whose threshold the credit score reaches,
    recomputed from credit_score and the star seed (not from the mart's own band join), and its label
    is that level's label; the next star is the band with the lowest threshold above the score, and
    points_to_next_star the distance to it (both null at the top star).  Each distinct combination
    is checked once, with the number of customers who have it.  Returns the combinations that differ.
#}
with

scores as (

    select * from {{ ref('customer_credit_score') }}

),

star_levels as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('star_levels') }} as in_force

),

score_values as (

    select
        credit_score,
        star_level,
        star_label,
        next_star_label,
        points_to_next_star,
        count(*) as customers
    from scores
    group by credit_score, star_level, star_label, next_star_label, points_to_next_star

),

expected as (

    select
        score_values.credit_score,
        max(star_levels.star_level) as expected_star_level
    from score_values
    inner join star_levels
        on
            star_levels.min_score_inclusive is null
            or score_values.credit_score >= star_levels.min_score_inclusive
    group by score_values.credit_score

),

expected_next as (

    select
        score_values.credit_score,
        min(star_levels.min_score_inclusive) as next_threshold
    from score_values
    inner join star_levels
        on score_values.credit_score < star_levels.min_score_inclusive
    group by score_values.credit_score

)

select
    score_values.credit_score,
    score_values.star_level,
    score_values.star_label,
    score_values.next_star_label,
    score_values.points_to_next_star,
    score_values.customers,
    expected.expected_star_level,
    star_levels.star_label as expected_star_label,
    next_star.star_label as expected_next_star_label,
    expected_next.next_threshold - score_values.credit_score as expected_points_to_next_star
from score_values
left join expected
    on score_values.credit_score = expected.credit_score
left join star_levels
    on expected.expected_star_level = star_levels.star_level
left join expected_next
    on score_values.credit_score = expected_next.credit_score
left join star_levels as next_star
    on expected_next.next_threshold = next_star.min_score_inclusive
where
    expected.expected_star_level is null
    or score_values.star_level <> expected.expected_star_level
    or score_values.star_label <> star_levels.star_label
    or coalesce(score_values.next_star_label, '') <> coalesce(next_star.star_label, '')
    or coalesce(score_values.points_to_next_star, -1)
    <> coalesce(expected_next.next_threshold - score_values.credit_score, -1)
