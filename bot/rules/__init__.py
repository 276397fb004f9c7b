"""The rule registry: an explicit list, in code order (one module per rule)."""

from __future__ import annotations

from bot.rules import (
    bkm001_artifact_in_cache_mount,
    bkm002_ephemeral_path_used_later_in_same_image,
    bkm003_install_destination_is_cache,
    bkm004_copy_out_in_separate_run,
    bkm005_relative_target_implicit_id,
    bkm006_unscoped_output_cache,
    bkm007_apt_cache_mount_misconfigured,
    bkm008_apt_lists_only_in_cache,
    bkm009_cleanup_inside_cache_mount,
    bkm010_writes_into_bind_mount,
    bkm011_mount_shadows_layer_content,
    bkm012_non_root_cache_permissions,
    bkm013_cache_over_toolchain_or_populated_dir,
    bkm014_cache_target_not_the_tools_cache_dir,
    bkm015_write_after_volume,
)
from bot.rules.base import Finding, FixAvailability, Rule, Severity

ALL_RULES: tuple[Rule, ...] = (
    bkm001_artifact_in_cache_mount.RULE,
    bkm002_ephemeral_path_used_later_in_same_image.RULE,
    bkm003_install_destination_is_cache.RULE,
    bkm004_copy_out_in_separate_run.RULE,
    bkm005_relative_target_implicit_id.RULE,
    bkm006_unscoped_output_cache.RULE,
    bkm007_apt_cache_mount_misconfigured.RULE,
    bkm008_apt_lists_only_in_cache.RULE,
    bkm009_cleanup_inside_cache_mount.RULE,
    bkm010_writes_into_bind_mount.RULE,
    bkm011_mount_shadows_layer_content.RULE,
    bkm012_non_root_cache_permissions.RULE,
    bkm013_cache_over_toolchain_or_populated_dir.RULE,
    bkm014_cache_target_not_the_tools_cache_dir.RULE,
    bkm015_write_after_volume.RULE,
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in ALL_RULES}

__all__ = ["ALL_RULES", "RULES_BY_CODE", "Finding", "FixAvailability", "Rule", "Severity"]
