"""domain/prompt"""
