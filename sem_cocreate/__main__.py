from sem_cocreate.cli import run

run()
