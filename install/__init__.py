"""Installers that write deskmcp into desktop hosts' config files."""
