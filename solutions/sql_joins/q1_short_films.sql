-- The title and length of every film shorter than 60 minutes, shortest first; films of equal length by title.
SELECT title, length
FROM film
WHERE length < 60
ORDER BY length, title;
