-- statement
-- sql_mode: 
-- time_zone: +00:00
-- character_set_client: latin1
-- collation_connection: latin1_swedish_ci
-- length: 82
CREATE DEFINER=`root`@`localhost` PROCEDURE `p`()
BEGIN
-- statement
SELECT 1;
END;
-- statement
-- length: 8
SELECT 1;
