-- For every film shorter than 60 minutes that has a category: the film's title and the category's name;
-- ordered by title, then category name.
-- Write one SELECT query (MySQL) below this comment.

