-- The 5 customers who paid the most in total: first name, last name, total amount paid;
-- highest total first, ties by customer id.
SELECT c.first_name, c.last_name, SUM(p.amount) AS total_paid
FROM customer AS c
JOIN payment AS p ON p.customer_id = c.customer_id
GROUP BY c.customer_id, c.first_name, c.last_name
ORDER BY total_paid DESC, c.customer_id
LIMIT 5;
