DROP TABLE loyalty.customer_approval_requests, loyalty.customer_notifications, loyalty.loyalty_programs;
