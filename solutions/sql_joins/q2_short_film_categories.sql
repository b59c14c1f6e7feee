-- For every film shorter than 60 minutes that has a category: the film's title and the category's name;
-- ordered by title, then category name.
SELECT f.title, c.name
FROM film AS f
JOIN film_category AS fc ON fc.film_id = f.film_id
JOIN category AS c ON c.category_id = fc.category_id
WHERE f.length < 60
ORDER BY f.title, c.name;
