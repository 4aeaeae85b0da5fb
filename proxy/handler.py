def handle_proxy_request(request, subdomain):
    raise NotImplementedError
