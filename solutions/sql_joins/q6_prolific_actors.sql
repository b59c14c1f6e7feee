-- Actors who appear in at least 30 films: first name, last name, number of films;
-- most films first, then last name, then first name, then actor id.
SELECT a.first_name, a.last_name, COUNT(*) AS films
FROM actor AS a
JOIN film_actor AS fa ON fa.actor_id = a.actor_id
GROUP BY a.actor_id, a.first_name, a.last_name
HAVING COUNT(*) >= 30
ORDER BY films DESC, a.last_name, a.first_name, a.actor_id;
