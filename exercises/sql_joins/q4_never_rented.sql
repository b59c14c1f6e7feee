-- The titles of films that have never been rented, including films with no copy in inventory;
-- ordered by title.
-- Write one SELECT query (MySQL) below this comment.

