-- RESTRICT: fails if a later migration left anything behind in the schema.
DROP SCHEMA loyalty RESTRICT;
