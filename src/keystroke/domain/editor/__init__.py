"""The editor side's pure logic: when to ask, which lane answers, what is still current, what is cached."""
