"""domain/engines"""
