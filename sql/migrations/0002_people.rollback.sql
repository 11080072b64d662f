DROP TABLE loyalty.customers, loyalty.users;
