"""What tests share besides fixtures, imported plainly: real processes, apps, catalogs, store databases."""
