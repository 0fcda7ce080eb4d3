"""MariaDB/MySQL point-in-time recovery: the server's binary logs archived into the target's
repository (:mod:`.pusher`), and a restore to a time that replays them onto a restored dump
(:mod:`.restore`). Where they are stored: :mod:`.layout`."""
