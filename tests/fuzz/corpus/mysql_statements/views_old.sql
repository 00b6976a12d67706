-- statement
CREATE ALGORITHM=UNDEFINED DEFINER=`u`@`%` SQL SECURITY DEFINER VIEW `v` AS select 1 AS `1`;
-- statement
-- length: 999999
x