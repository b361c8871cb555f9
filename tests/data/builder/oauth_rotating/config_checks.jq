.credentials.refresh_token == "rtok-2"
.client_secret == "csecret-77"
