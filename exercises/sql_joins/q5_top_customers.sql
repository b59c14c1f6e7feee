-- The 5 customers who paid the most in total: first name, last name, total amount paid;
-- highest total first, ties by customer id.
-- Write one SELECT query (MySQL) below this comment.

