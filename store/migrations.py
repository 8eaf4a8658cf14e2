"""Numbered schema migrations.

Each migration is a list of SQL statements applied in one transaction; the version reached is
recorded both in ``schema_migrations`` (with the time it was applied) and in ``PRAGMA
user_version`` so that any SQLite tool can read it. Migrations are append-only: never edit one
that has shipped, add a new number instead.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "reference data, components and their revisions",
        [
            """CREATE TABLE use_cases (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                inactive_days INTEGER NOT NULL CHECK (inactive_days >= 0),
                goal_metric TEXT NOT NULL,
                business_vertical TEXT,
                verticals TEXT NOT NULL DEFAULT '[]',
                status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
                created_at TEXT NOT NULL
            )""",
            """CREATE TABLE segments (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                position INTEGER NOT NULL DEFAULT 0,
                status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived'))
            )""",
            """CREATE TABLE kinds (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                position INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE channels (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                title_max INTEGER NOT NULL DEFAULT 0 CHECK (title_max >= 0),
                preheader_max INTEGER NOT NULL DEFAULT 0 CHECK (preheader_max >= 0),
                body_max INTEGER NOT NULL CHECK (body_max > 0),
                description TEXT NOT NULL DEFAULT ''
            )""",
            """CREATE TABLE components (
                id INTEGER PRIMARY KEY,
                kind TEXT NOT NULL REFERENCES kinds(id),
                text TEXT NOT NULL CHECK (length(trim(text)) > 0),
                segment TEXT REFERENCES segments(id),
                offer_type TEXT NOT NULL DEFAULT '',
                product_category TEXT NOT NULL DEFAULT '',
                tone TEXT NOT NULL DEFAULT '',
                tags TEXT NOT NULL DEFAULT '',
                status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
                source TEXT NOT NULL DEFAULT 'marketer',
                seed_key TEXT UNIQUE,
                version INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                created_by TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                updated_by TEXT NOT NULL
            )""",
            "CREATE INDEX components_kind_status ON components(kind, status)",
            "CREATE INDEX components_segment ON components(segment)",
            """CREATE TABLE component_revisions (
                id INTEGER PRIMARY KEY,
                component_id INTEGER NOT NULL REFERENCES components(id),
                version INTEGER NOT NULL,
                action TEXT NOT NULL
                    CHECK (action IN ('create', 'edit', 'archive', 'restore', 'import', 'seed')),
                old_text TEXT,
                new_text TEXT,
                old_fields TEXT,
                new_fields TEXT NOT NULL,
                actor TEXT NOT NULL,
                at TEXT NOT NULL
            )""",
            "CREATE INDEX component_revisions_component ON component_revisions(component_id)",
        ],
    ),
    (
        2,
        "message templates, their revisions and performance history",
        [
            """CREATE TABLE templates (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                segment TEXT REFERENCES segments(id),
                channel TEXT NOT NULL REFERENCES channels(id),
                title TEXT NOT NULL DEFAULT '',
                preheader TEXT NOT NULL DEFAULT '',
                body TEXT NOT NULL,
                image TEXT NOT NULL DEFAULT '',
                merchant TEXT NOT NULL DEFAULT '',
                product_category TEXT NOT NULL DEFAULT '',
                voucher TEXT NOT NULL DEFAULT '',
                meta TEXT NOT NULL DEFAULT '{}',
                status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
                source TEXT NOT NULL DEFAULT 'marketer',
                seed_key TEXT UNIQUE,
                parent_id INTEGER REFERENCES templates(id),
                version INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                created_by TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                updated_by TEXT NOT NULL
            )""",
            "CREATE INDEX templates_segment ON templates(segment, status)",
            """CREATE TABLE template_revisions (
                id INTEGER PRIMARY KEY,
                template_id INTEGER NOT NULL REFERENCES templates(id),
                version INTEGER NOT NULL,
                action TEXT NOT NULL
                    CHECK (action IN ('create', 'edit', 'archive', 'restore', 'import', 'seed')),
                old_fields TEXT,
                new_fields TEXT NOT NULL,
                actor TEXT NOT NULL,
                at TEXT NOT NULL
            )""",
            """CREATE TABLE template_performance (
                template_id INTEGER NOT NULL REFERENCES templates(id),
                week_start TEXT NOT NULL,
                sends INTEGER NOT NULL CHECK (sends >= 0),
                reads INTEGER NOT NULL CHECK (reads >= 0),
                voucher_clicks INTEGER NOT NULL DEFAULT 0,
                product_clicks INTEGER NOT NULL DEFAULT 0,
                button_clicks INTEGER NOT NULL DEFAULT 0,
                unsubscribes INTEGER NOT NULL DEFAULT 0,
                conversions INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (template_id, week_start)
            )""",
        ],
    ),
    (
        3,
        "audit log and management mode events",
        [
            """CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY,
                at TEXT NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                entity TEXT NOT NULL,
                entity_id TEXT,
                detail TEXT NOT NULL DEFAULT '{}'
            )""",
            "CREATE INDEX audit_log_entity ON audit_log(entity, entity_id)",
            """CREATE TABLE management_events (
                id INTEGER PRIMARY KEY,
                mode TEXT NOT NULL CHECK (mode IN ('active', 'passive')),
                actor TEXT NOT NULL,
                at TEXT NOT NULL,
                note TEXT NOT NULL DEFAULT ''
            )""",
        ],
    ),
]

MIGRATIONS.append((
    4,
    "decision agent: models, settings, decision log, outcome events, quarantine, snapshots",
    [
        """CREATE TABLE agent_models (
            dimension TEXT PRIMARY KEY,
            state BLOB NOT NULL,
            n INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE agent_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )""",
        """CREATE TABLE decision_batches (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            source TEXT NOT NULL,
            seed INTEGER NOT NULL,
            start_day TEXT NOT NULL,
            n_users INTEGER NOT NULL,
            n_sent INTEGER NOT NULL
        )""",
        """CREATE TABLE decisions (
            id TEXT PRIMARY KEY,
            batch_id INTEGER NOT NULL REFERENCES decision_batches(id),
            user_id TEXT NOT NULL,
            arm TEXT NOT NULL CHECK (arm IN ('agent', 'holdout')),
            send INTEGER NOT NULL,
            channel TEXT,
            weekday INTEGER,
            hour INTEGER,
            send_at TEXT,
            template_id INTEGER,
            atoms TEXT NOT NULL DEFAULT '{}',
            policy_send INTEGER,
            ctx TEXT NOT NULL,
            propensity REAL,
            p TEXT NOT NULL DEFAULT '{}',
            guardrails INTEGER NOT NULL DEFAULT 0,
            learned INTEGER NOT NULL DEFAULT 0,
            reward REAL NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX decisions_batch ON decisions(batch_id)",
        "CREATE INDEX decisions_open ON decisions(learned, send_at)",
        """CREATE TABLE outcome_events (
            decision_id TEXT NOT NULL REFERENCES decisions(id),
            event TEXT NOT NULL,
            value REAL NOT NULL,
            occurred_at TEXT NOT NULL,
            source TEXT NOT NULL,
            line INTEGER NOT NULL,
            ingested_at TEXT NOT NULL,
            PRIMARY KEY (decision_id, event, occurred_at)
        )""",
        """CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            line INTEGER NOT NULL,
            raw TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            UNIQUE (source, line, raw)
        )""",
        """CREATE TABLE posterior_snapshots (
            day TEXT NOT NULL,
            dimension TEXT NOT NULL,
            segment TEXT NOT NULL,
            option TEXT NOT NULL,
            label TEXT NOT NULL,
            mean REAL NOT NULL,
            sd REAL NOT NULL,
            p_best REAL NOT NULL,
            share REAL,
            PRIMARY KEY (day, dimension, segment, option)
        )""",
    ],
))

MIGRATIONS.append((
    5,
    "simulated trials: runs, daily aggregates per arm, weekly per-user moments",
    [
        """CREATE TABLE sim_runs (
            id INTEGER PRIMARY KEY,
            preset TEXT NOT NULL,
            users INTEGER NOT NULL,
            days INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            config TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'pausing', 'paused', 'done', 'failed')),
            days_done INTEGER NOT NULL DEFAULT 0,
            checkpoint_day INTEGER NOT NULL DEFAULT 0,
            folder TEXT NOT NULL,
            message TEXT NOT NULL DEFAULT '',
            started_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            seconds REAL NOT NULL DEFAULT 0,
            pid INTEGER
        )""",
        """CREATE TABLE sim_daily (
            run_id INTEGER NOT NULL REFERENCES sim_runs(id),
            day INTEGER NOT NULL,
            date TEXT NOT NULL,
            arm TEXT NOT NULL CHECK (arm IN ('agent', 'holdout')),
            mode TEXT NOT NULL,
            users INTEGER NOT NULL,
            messageable INTEGER NOT NULL,
            sends INTEGER NOT NULL,
            direct_open REAL NOT NULL,
            engagement REAL NOT NULL,
            intent REAL NOT NULL,
            conversion REAL NOT NULL,
            conversion_vertical REAL NOT NULL,
            gmv REAL NOT NULL,
            e_direct_open REAL NOT NULL,
            e_engagement REAL NOT NULL,
            e_intent REAL NOT NULL,
            e_conversion REAL NOT NULL,
            e_conversion_vertical REAL NOT NULL,
            e_gmv REAL NOT NULL,
            PRIMARY KEY (run_id, day, arm)
        )""",
        """CREATE TABLE sim_weekly (
            run_id INTEGER NOT NULL REFERENCES sim_runs(id),
            week INTEGER NOT NULL,
            arm TEXT NOT NULL,
            mode TEXT NOT NULL,
            metric TEXT NOT NULL,
            n INTEGER NOT NULL,
            sum REAL NOT NULL,
            sumsq REAL NOT NULL,
            PRIMARY KEY (run_id, week, arm, metric)
        )""",
    ],
))


MIGRATIONS.append((
    6,
    "rewrite studio: LLM settings (never keys), call cache and log, rewrites, blind judgments",
    [
        """CREATE TABLE llm_settings (
            agent TEXT PRIMARY KEY CHECK (agent IN ('diagnosis', 'rewrite', 'evaluation')),
            base_url TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            temperature REAL NOT NULL DEFAULT 0.2 CHECK (temperature >= 0 AND temperature <= 2),
            timeout_s REAL NOT NULL DEFAULT 30 CHECK (timeout_s > 0),
            max_retries INTEGER NOT NULL DEFAULT 2 CHECK (max_retries >= 0),
            updated_at TEXT NOT NULL,
            updated_by TEXT NOT NULL
        )""",
        """CREATE TABLE llm_cache (
            key TEXT PRIMARY KEY,
            agent TEXT NOT NULL,
            model TEXT NOT NULL,
            response TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE llm_calls (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            agent TEXT NOT NULL,
            purpose TEXT NOT NULL DEFAULT '',
            base_url TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            cache_key TEXT,
            cached INTEGER NOT NULL DEFAULT 0,
            status TEXT NOT NULL CHECK (status IN ('ok', 'repaired', 'error')),
            attempts INTEGER NOT NULL DEFAULT 1,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            latency_ms REAL NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX llm_calls_at ON llm_calls(at)",
        """CREATE TABLE rewrite_runs (
            id INTEGER PRIMARY KEY,
            segment TEXT NOT NULL REFERENCES segments(id),
            engine TEXT NOT NULL,
            config TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
            total INTEGER NOT NULL DEFAULT 0,
            done INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '',
            started_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE rewrites (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES rewrite_runs(id),
            template_id INTEGER NOT NULL REFERENCES templates(id),
            segment TEXT NOT NULL REFERENCES segments(id),
            engine TEXT NOT NULL,
            path TEXT NOT NULL CHECK (path IN ('in_group', 'retrieved', 'rule_based')),
            error_type TEXT NOT NULL DEFAULT '',
            diagnosis TEXT NOT NULL DEFAULT '{}',
            exemplars TEXT NOT NULL DEFAULT '[]',
            original TEXT NOT NULL,
            rewrite TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            rejected TEXT NOT NULL DEFAULT '[]',
            evaluation TEXT NOT NULL DEFAULT '{}',
            chrf REAL,
            cosine REAL,
            status TEXT NOT NULL DEFAULT 'proposed'
                CHECK (status IN ('proposed', 'accepted', 'dismissed')),
            accepted_template_id INTEGER REFERENCES templates(id),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT
        )""",
        "CREATE INDEX rewrites_segment ON rewrites(segment, status)",
        """CREATE TABLE judgments (
            id INTEGER PRIMARY KEY,
            rewrite_id INTEGER NOT NULL REFERENCES rewrites(id),
            judge TEXT NOT NULL,
            rewrite_position TEXT NOT NULL CHECK (rewrite_position IN ('A', 'B')),
            choice TEXT NOT NULL CHECK (choice IN ('A', 'B', 'none')),
            preferred TEXT NOT NULL CHECK (preferred IN ('rewrite', 'original', 'none')),
            at TEXT NOT NULL
        )""",
        "CREATE INDEX judgments_rewrite ON judgments(rewrite_id)",
    ],
))

MIGRATIONS.append((
    7,
    "live programme: roster metadata, file ledger and the days decided",
    [
        """CREATE TABLE live_programme (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            salt TEXT NOT NULL,
            holdout_share REAL NOT NULL CHECK (holdout_share >= 0 AND holdout_share < 1),
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        )""",
        """CREATE TABLE live_roster_imports (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            rows INTEGER NOT NULL,
            new_users INTEGER NOT NULL,
            total_users INTEGER NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL
        )""",
        """CREATE TABLE live_files (
            sha256 TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            rows INTEGER NOT NULL,
            inserted INTEGER NOT NULL,
            duplicates INTEGER NOT NULL,
            quarantined INTEGER NOT NULL,
            attributed INTEGER NOT NULL,
            at TEXT NOT NULL,
            actor TEXT NOT NULL
        )""",
        """CREATE TABLE live_days (
            day TEXT PRIMARY KEY,
            batch_id INTEGER NOT NULL REFERENCES decision_batches(id),
            n_users INTEGER NOT NULL,
            n_sent INTEGER NOT NULL,
            log_path TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ],
))

MIGRATIONS.append((8, "live programme: the days learnt from the Parquet decision log", [
    """CREATE TABLE live_learned (
        day TEXT PRIMARY KEY REFERENCES live_days(day),
        decisions INTEGER NOT NULL, events REAL NOT NULL, files_through INTEGER NOT NULL,
        learned_at TEXT NOT NULL, updated_at TEXT NOT NULL
    )"""]))

LATEST_VERSION = MIGRATIONS[-1][0]
