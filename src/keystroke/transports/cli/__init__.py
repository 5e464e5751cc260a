"""transports/cli"""
