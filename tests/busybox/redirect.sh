# redirect.sh - redirections, descriptors, status codes, a subshell.
cd "$1" || exit 9
echo to-stderr 1>&2
ls missing-file 2> err.txt
echo "ls status $?"
cat err.txt
exec 3> fd3.txt
echo via-three >&3
exec 3>&-
cat fd3.txt
(echo a; echo b) > both.txt
cat < both.txt | sort -r
echo more >> both.txt
wc -l < both.txt
false || echo "false failed"
true && echo "true ok"
cat <<END
here $((6 * 7))
END
( exit 4 )
echo "subshell status $?"
sh -c 'echo child $0 $1' zero one
exit 3
