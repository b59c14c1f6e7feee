-- The titles of films that have never been rented, including films with no copy in inventory;
-- ordered by title.
SELECT f.title
FROM film AS f
LEFT JOIN inventory AS i ON i.film_id = f.film_id
LEFT JOIN rental AS r ON r.inventory_id = i.inventory_id
GROUP BY f.film_id, f.title
HAVING COUNT(r.rental_id) = 0
ORDER BY f.title;
