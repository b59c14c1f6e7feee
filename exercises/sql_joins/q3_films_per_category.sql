-- Every category with the number of films in it (0 for a category with none);
-- most films first, then by category name.
-- Write one SELECT query (MySQL) below this comment.

