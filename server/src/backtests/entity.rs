//! The backtest tables as sea-orm sees them (created by
//! `m20261204_000008_backtests`).

pub mod backtest {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "backtests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub user_id: Uuid,
        pub script_id: Uuid,
        pub version: i32,
        pub symbol: String,
        pub interval: String,
        pub range_from: Option<i64>,
        pub range_to: Option<i64>,
        /// The `Settings` as JSON.
        pub settings: String,
        /// `loading`, `running`, `done` or `failed`.
        pub state: String,
        pub have: i64,
        pub want: i64,
        pub message: Option<String>,
        /// The `Outcome` as JSON, once done.
        pub outcome: Option<String>,
        pub net_profit_pct: Option<f64>,
        pub max_drawdown_pct: Option<f64>,
        pub trades: Option<i32>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod saved_settings {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "backtest_settings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub script_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        /// The `Settings` as JSON.
        pub settings: String,
        pub updated_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
