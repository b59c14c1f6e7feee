-- Every category with the number of films in it (0 for a category with none);
-- most films first, then by category name.
SELECT c.name, COUNT(fc.film_id) AS films
FROM category AS c
LEFT JOIN film_category AS fc ON fc.category_id = c.category_id
GROUP BY c.category_id, c.name
ORDER BY films DESC, c.name;
