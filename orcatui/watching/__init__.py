"""Pieces of the change feed (:mod:`orcatui.watch`): path rules, mount detection, dir polling."""
