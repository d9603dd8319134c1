"""Jobs: teams' programs run on cron schedules and registry events, under hard caps."""
