"""Readers that turn one public raw layout into canonical cases (registered in ``medsegkit.readers``)."""
