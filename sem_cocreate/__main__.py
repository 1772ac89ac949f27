from sem_cocreate.cli import main

raise SystemExit(main())
