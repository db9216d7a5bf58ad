"""The debtors app registers no admin pages of its own yet: debts are worked in the
workspace UI, where every read and change is scoped and audited."""
