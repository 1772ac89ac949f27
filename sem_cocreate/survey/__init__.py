"""Survey stage: instruments, questionnaire export, response import, validation, screening, simulation.

Imports only :mod:`sem_cocreate.exceptions` and :mod:`sem_cocreate.files` from outside; every later
stage (``sem``, ``measurement``, ``inference``, ``study``, ``report``) may import from here.
"""
