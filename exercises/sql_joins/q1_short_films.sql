-- The title and length of every film shorter than 60 minutes, shortest first; films of equal length by title.
-- Write one SELECT query (MySQL) below this comment.

