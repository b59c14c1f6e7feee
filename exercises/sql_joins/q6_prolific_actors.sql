-- Actors who appear in at least 30 films: first name, last name, number of films;
-- most films first, then last name, then first name, then actor id.
-- Write one SELECT query (MySQL) below this comment.

