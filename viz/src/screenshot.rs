//! Screenshot mode (`--screenshot FILE --at 30s --scenario NAME`): render a few frames so egui lays out and the
//! fonts upload, capture the window with Bevy's Screenshot API, refuse a blank picture, save it and exit.

use bevy::prelude::*;
use bevy::render::view::screenshot::{save_to_disk, Screenshot, ScreenshotCaptured};
use std::path::PathBuf;

#[derive(Resource, Clone, Debug)]
pub struct ScreenshotPlan {
    pub path: PathBuf,
    pub frames_to_wait: u32,
    pub requested: bool,
    pub started: std::time::Instant,
}

pub struct ScreenshotPlugin {
    pub path: PathBuf,
}

impl Plugin for ScreenshotPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(ScreenshotPlan {
            path: self.path.clone(),
            frames_to_wait: 20,
            requested: false,
            started: std::time::Instant::now(),
        })
        .add_systems(Update, request_screenshot.after(crate::VizCoreSet));
    }
}

/// Exit code when the captured picture is blank.
pub const EXIT_BLANK: u8 = 3;
/// Exit code when no capture arrived in time.
pub const EXIT_TIMEOUT: u8 = 4;

fn request_screenshot(mut commands: Commands, mut plan: ResMut<ScreenshotPlan>, mut exit: MessageWriter<AppExit>) {
    if plan.started.elapsed().as_secs() > 120 {
        eprintln!("screenshot: no capture after 120 s");
        exit.write(AppExit::from_code(EXIT_TIMEOUT));
        return;
    }
    if plan.requested {
        return;
    }
    if plan.frames_to_wait > 0 {
        plan.frames_to_wait -= 1;
        return;
    }
    plan.requested = true;
    let path = plan.path.clone();
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
            let (distinct, top_share) = colour_stats(captured.image.data.as_deref().unwrap_or(&[]));
            save_to_disk(path.clone())(captured);
            let blank = looks_blank(distinct, top_share);
            println!(
                "screenshot: {} ({distinct} colours, most common {:.1}%){}",
                path.display(),
                top_share * 100.0,
                if blank { " looks BLANK" } else { "" }
            );
            exit.write(if blank { AppExit::from_code(EXIT_BLANK) } else { AppExit::Success });
        },
    );
}

/// Distinct colours (capped) and the share of the most common one, over 4-byte pixels.
pub fn colour_stats(data: &[u8]) -> (usize, f64) {
    let mut counts = std::collections::BTreeMap::<[u8; 3], u64>::new();
    let mut pixels = 0u64;
    for px in data.chunks_exact(4) {
        *counts.entry([px[0], px[1], px[2]]).or_default() += 1;
        pixels += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    (counts.len(), if pixels == 0 { 1.0 } else { top as f64 / pixels as f64 })
}

/// A picture with almost one colour, or very few, is blank (nothing was drawn).
pub fn looks_blank(distinct: usize, top_share: f64) -> bool {
    distinct < 16 || top_share > 0.97
}
