"""The whole stack on one machine: ``matchlab up`` (``launcher``) starts an embedded Redis when
none answers (``redis_server``), a worker and the web server, as children that end with it
(``children``)."""
