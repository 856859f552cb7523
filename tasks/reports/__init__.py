"""What a package shows its reader: the quality report (PDF), the answer workbook, the README and data
dictionary, and the shared pieces both reports draw from (column profiles, findings in words, charts)."""
